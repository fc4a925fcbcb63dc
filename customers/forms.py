from django import forms
from django.utils.translation import gettext_lazy as _

from workorders.models import Satisfaction

from .services import COMMENT_MAX, NOTE_MAX

YES_NO = [("yes", _("已解决")), ("no", _("未解决"))]


class NoteForm(forms.Form):
    text = forms.CharField(
        label=_("补充信息"),
        max_length=NOTE_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("最多 500 字；每小时可补充一次。"),
    )


class SurveyForm(forms.Form):
    resolved = forms.TypedChoiceField(
        label=_("问题是否已解决"),
        choices=YES_NO,
        coerce=lambda v: v == "yes",
        widget=forms.RadioSelect,
    )
    satisfaction = forms.ChoiceField(
        label=_("您对本次处理是否满意"), choices=Satisfaction.choices, widget=forms.RadioSelect
    )
    comment = forms.CharField(
        label=_("意见或建议（选填）"),
        required=False,
        max_length=COMMENT_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
