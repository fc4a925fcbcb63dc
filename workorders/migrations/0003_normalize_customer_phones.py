"""Store every customer phone in one spelling (`normalize_phone`), so repeat complaints match
orders filed before the rule: fixed lines typed without the area-code hyphen, or with spaces."""

from django.db import migrations
from django.db.models import Q


def forwards(apps, schema_editor):
    from workorders.phones import normalize_phone

    Ticket = apps.get_model("workorders", "Ticket")
    # Mobiles typed as 11 digits are already in their one spelling; look at the rest only.
    odd = Ticket.objects.filter(
        Q(customer_phone__startswith="0", customer_phone__regex=r"^[0-9]+$")
        | Q(customer_phone__contains=" ")
        | Q(customer_phone__startswith="1", customer_phone__contains="-")
    ).values_list("pk", "customer_phone")
    for pk, phone in odd.iterator(chunk_size=2000):
        fixed = normalize_phone(phone)
        if fixed != phone:
            Ticket.objects.filter(pk=pk).update(customer_phone=fixed)


class Migration(migrations.Migration):
    dependencies = [("workorders", "0002_issue6_indexes")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
