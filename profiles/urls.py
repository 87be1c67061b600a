from django.contrib.auth import views as auth_views
from django.urls import path

from profiles import views

urlpatterns = [
    path("", views.home, name="home"),
    path("profile/", views.profile, name="profile"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    # Django's LogoutView accepts POST only, so a link or an image cannot log a user out.
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
]
