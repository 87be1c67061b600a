"""The "Call Centre parameters" form an operator fills in on his own profile page."""

from __future__ import annotations

from django import forms

from profiles.models import Profile


class CallCentreParametersForm(forms.ModelForm):
    """The user's own Call Centre parameters; the seat is only the administrator's to grant."""

    class Meta:
        model = Profile
        fields = ["integration_disabled", "line", "outgoing_context", "debug_mode"]
        widgets = {
            "line": forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
            "outgoing_context": forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
        }
