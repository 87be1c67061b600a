from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from profiles.models import Profile


@login_required
def home(request):
    return render(request, "profiles/home.html", {"profile": Profile.for_user(request.user)})


@login_required
def profile(request):
    return render(request, "profiles/profile.html", {"profile": Profile.for_user(request.user)})
