"""Template context: whether the current user gets the communication panel."""

from django.conf import settings


def telephony(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"telephony_panel": False, "demo_mode": settings.DEMO_MODE}
    from profiles.models import Profile
    from settings.registry import telephony_library_enabled

    profile = Profile.for_user(user)
    return {
        "telephony_profile": profile,
        "telephony_panel": profile.telephony_enabled and telephony_library_enabled(),
        "demo_mode": settings.DEMO_MODE,
    }
