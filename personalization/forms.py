"""The FeedConfig admin form: one labelled number field per parameter of ranking/config.PARAMS."""
from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator

from feedproject.vocabulary import Surface, choices
from personalization.models import FeedConfig
from personalization.ranking.config import GROUPS, PARAMS, PARAMS_BY_KEY, default_params, validate_params

GROUP_TITLES = {
    "weights": "Score weights",
    "quotas": "Quotas (must sum to 1)",
    "caps": "Frequency caps and fatigue",
    "reshow": "Changed enough to re-show",
    "diversity": "Category diversity",
    "exploration": "Exploration",
    "interest": "Interest blend",
    "features": "Features",
    "ranker": "Ranker",
    "events": "Event values (affinity update and the learned ranker's Σ value × P)",
}


def param_field_name(param):
    return f"{param.group}__{param.name}"


def param_label(param):
    return param.name.replace("_", " ").capitalize()


def _sentence(text):
    return text[:1].upper() + text[1:]


def _number(value):
    return f"{int(value):,}" if value == int(value) else f"{value:g}"


def _param_field(param):
    label = param_label(param)
    if param.choices:
        return forms.TypedChoiceField(
            label=label, choices=param.choices, coerce=int, help_text=_sentence(param.help.rstrip(".") + "."),
            error_messages={"required": f"{label} is required."},
        )
    bounds = f"between {_number(param.low)} and {_number(param.high)}"
    help_parts = [param.help.rstrip(".") + "."] if param.help else []
    help_parts.append(f"Default {_number(param.default)}, allowed {bounds}.")
    field_class = forms.IntegerField if param.integer else forms.FloatField
    return field_class(
        label=label,
        help_text=_sentence(" ".join(help_parts)),
        validators=[
            MinValueValidator(param.low, message=f"{label} must be {bounds}; %(show_value)s is too low."),
            MaxValueValidator(param.high, message=f"{label} must be {bounds}; %(show_value)s is too high."),
        ],
        error_messages={
            "required": f"{label} is required.",
            "invalid": f"{label} must be {'a whole number' if param.integer else 'a number'}.",
        },
        widget=forms.NumberInput(
            attrs={"min": f"{param.low:g}", "max": f"{param.high:g}", "step": "1" if param.integer else "any"}
        ),
    )


# The groups an editor tunes day to day; the others fold under "Advanced".
EVERYDAY_GROUPS = ("weights", "quotas", "ranker")


def param_fieldsets():
    """Admin fieldsets: one per PARAMS group, in the order config.py declares them; the expert groups folded."""
    fieldsets = []
    for group in GROUPS:
        title = GROUP_TITLES.get(group, group.capitalize())
        options = {"fields": [param_field_name(p) for p in PARAMS if p.group == group]}
        if group not in EVERYDAY_GROUPS:
            title, options["classes"] = f"Advanced: {title}", ("collapse",)
        fieldsets.append((title, options))
    # The day-to-day groups first, in their declared order; then the advanced ones.
    return sorted(fieldsets, key=lambda fs: fs[0].startswith("Advanced"))


class FeedConfigBaseForm(forms.ModelForm):
    """Shows `params` as separate fields and validates them all with validate_params.

    The form never writes the row: the admin hands `cleaned_params` to
    personalization.feed_configs.feed_config_save_version, which makes a new version.
    """

    class Meta:
        model = FeedConfig
        fields = ("surface", "note")
        help_texts = {"note": "What changed and why; kept with the new version."}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        stored = self.instance.params if self.instance.pk and isinstance(self.instance.params, dict) else {}
        defaults = default_params()
        active = FeedConfig.objects.filter(surface=self.instance.surface or "home", is_active=True).first()
        active_params = active.params if active and isinstance(active.params, dict) else defaults
        self.active_label = f"{active.surface} v{active.version}" if active else "the defaults"
        for p in PARAMS:
            group_values = stored.get(p.group) if isinstance(stored.get(p.group), dict) else {}
            field = self.fields[param_field_name(p)]
            field.initial = group_values.get(p.name, defaults[p.group][p.name])
            # What feed_config_form.js compares with, live: the active version's value, and the quota sum.
            active_value = (active_params.get(p.group) or {}).get(p.name, defaults[p.group][p.name])
            field.widget.attrs.update({"data-key": p.key, "data-label": param_label(p), "data-active": active_value})
            if p.group == "quotas":
                field.widget.attrs["data-quota"] = "1"
        if "note" in self.fields:
            self.fields["note"].widget.attrs["data-active-label"] = self.active_label
        if self.instance.pk:
            # A new version starts with the edited version's note blank: the note describes a change.
            self.initial["note"] = ""
        self.cleaned_params = None

    def clean(self):
        cleaned = super().clean()
        params = {group: {} for group in GROUPS}
        invalid = set()
        for p in PARAMS:
            name = param_field_name(p)
            if name in self.errors or cleaned.get(name) is None:
                invalid.add(p.key)
            else:
                params[p.group][p.name] = cleaned[name]
        for key, message in validate_params(params):
            param = PARAMS_BY_KEY.get(key)
            if param is not None:
                if key not in invalid:  # a field's own error already says what is wrong
                    self.add_error(param_field_name(param), f"{param_label(param)} {message}.")
            elif key in GROUPS:
                if not any(k.startswith(f"{key}.") for k in invalid):  # a sum of incomplete values misleads
                    self.add_error(None, f"{_sentence(key)} {message}.")
            else:
                self.add_error(None, f"{key} {message}.")
        if not self.errors:
            self.cleaned_params = params
        return cleaned

    def params_changed(self):
        return any(param_field_name(p) in self.changed_data for p in PARAMS)


FeedConfigForm = type(
    "FeedConfigForm",
    (FeedConfigBaseForm,),
    {param_field_name(p): _param_field(p) for p in PARAMS},
)


class FeedPreviewForm(forms.Form):
    """What an editor asks the preview: whose feed, where, when."""

    user_key = forms.CharField(max_length=64, help_text='e.g. "u:42", "a:3f2c…" or "demo:7"')
    surface = forms.ChoiceField(choices=choices(Surface), initial="home")
    country = forms.RegexField(r"^[A-Za-z]{2}$", required=False, help_text="Two letters; empty = the user's own.")
    at = forms.DateTimeField(required=False, help_text="UTC, e.g. 2026-11-26 18:00; empty = now.")
    limit = forms.IntegerField(min_value=1, max_value=100, initial=20)
    order = forms.ChoiceField(choices=[("position", "feed position"), ("score", "score")], initial="position",
                              required=False, help_text="Rows in the order the feed shows them, or by score.")
    new_draw = forms.BooleanField(required=False, label="New random draw",
                                  help_text="Off: the same feed on every reload (a fixed seed per user and surface).")
