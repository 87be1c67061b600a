"""The home page and the user's own profile page (there is no URL for anyone else's)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from profiles.forms import CallCentreParametersForm
from profiles.models import Profile
from settings.registry import telephony_library_enabled


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """The user's line, licence and integration state at a glance."""
    profile = Profile.for_user(request.user)
    context = {"profile": profile, "library_enabled": telephony_library_enabled()}
    return render(request, "profiles/home.html", context)


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    """Show and save the Call Centre parameters of the logged-in user only."""
    own = Profile.for_user(request.user)
    if request.method == "POST":
        # A separate instance: a refused value must not show up in the status box.
        form = CallCentreParametersForm(request.POST, instance=Profile.objects.get(pk=own.pk))
        if form.is_valid():
            form.save()
            messages.success(request, _("Call Centre parameters saved."))
            return redirect("profile")
    else:
        form = CallCentreParametersForm(instance=own)
    context = {"profile": own, "form": form, "library_enabled": telephony_library_enabled()}
    return render(request, "profiles/profile.html", context)
