from django.core.management.base import BaseCommand

from workorders.models import Attachment
from workorders.services import attachment_make_thumbnail


class Command(BaseCommand):
    help = (
        "Make the small thumbnail (≤ 240 px JPEG, no metadata) of photos stored before "
        "thumbnails were made at upload. Photos that have one are left alone; safe to run again."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--force", action="store_true", help="Make every thumbnail again, even existing ones."
        )

    def handle(self, *args, **options):
        made = seen = 0
        qs = Attachment.objects.order_by("pk")
        if not options["force"]:
            qs = qs.filter(thumbnail="")
        for attachment in qs.iterator(chunk_size=200):
            seen += 1
            made += attachment_make_thumbnail(attachment=attachment, force=options["force"])
        self.stdout.write(f"Photos: {seen} checked, {made} thumbnails made.")
