"""The shipped SMS templates (Chinese), one active per event. Superusers edit them in the
admin; a template that exists already (by code) is left as it is."""

from django.db import migrations

TEMPLATES = [
    ('accepted', 'WS_ACCEPTED', '您反映的{category}问题已受理，工单号{number}，我们将于{promise_time}前答复您。进度查询：{status_url}'),
    ('dispatched', 'WS_DISPATCHED', '您的工单{number}（{category}）已转{line}处理，承诺{promise_time}前答复。进度查询：{status_url}'),
    ('suspended', 'WS_SUSPENDED', '您的工单{number}因{reason}暂缓处理，预计{resume_time}恢复。进度查询：{status_url}'),
    ('resumed', 'WS_RESUMED', '您的工单{number}已恢复处理，承诺{promise_time}前答复。进度查询：{status_url}'),
    ('extended', 'WS_EXTENDED', '您的工单{number}经审批延期，新的答复时限为{promise_time}。进度查询：{status_url}'),
    ('replied', 'WS_REPLIED', '您的工单{number}已处理：{reply}。请您评价本次服务：{survey_url}'),
    ('closed', 'WS_CLOSED', '您的工单{number}已办结，感谢您的支持。进度查询：{status_url}'),
    ('opt_out', 'WS_OPT_OUT', '您已退订工单进度短信，今后不再发送。工单进度仍可通过原短信中的链接查询。'),
]


def load(apps, schema_editor):
    SmsTemplate = apps.get_model("notifications", "SmsTemplate")
    for event, code, text in TEMPLATES:
        if SmsTemplate.objects.filter(code=code).exists():
            continue
        active = not SmsTemplate.objects.filter(event=event, active=True).exists()
        SmsTemplate.objects.create(code=code, event=event, text=text, active=active)


def unload(apps, schema_editor):
    SmsTemplate = apps.get_model("notifications", "SmsTemplate")
    SmsTemplate.objects.filter(code__in=[code for _e, code, _t in TEMPLATES]).delete()


class Migration(migrations.Migration):
    dependencies = [("notifications", "0008_sms_channel")]

    operations = [migrations.RunPython(load, unload)]
