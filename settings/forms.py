"""The change form of a system setting: its widget and validation come from the registry."""

from __future__ import annotations

from django import forms

from settings.models import SystemSetting


class SystemSettingForm(forms.ModelForm):
    """Edit the value of one known setting; a choice setting gets a drop-down."""

    class Meta:
        model = SystemSetting
        fields = ["value"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.warnings: list[str] = []
        spec = self.instance.spec
        if spec is None:
            return
        if spec.choices:
            field = forms.ChoiceField(choices=[(code, label) for code, label in spec.choices])
        else:
            # strip=False: a line break must reach the registry and be refused, not silently cut off.
            field = forms.CharField(required=False, strip=False, widget=forms.TextInput(attrs={"size": 60}))
        field.label = spec.name
        field.help_text = spec.description
        self.fields["value"] = field

    def clean_value(self) -> str:
        """Normalise with the registry's rules and collect the warnings to show after saving."""
        spec = self.instance.spec
        value = self.cleaned_data.get("value") or ""
        if spec is None:
            return value
        value = spec.clean(value)
        self.warnings = list(spec.warn(value))
        return value
