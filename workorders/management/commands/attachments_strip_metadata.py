from django.core.management.base import BaseCommand

from workorders.models import Attachment
from workorders.services import attachment_strip_metadata


class Command(BaseCommand):
    help = (
        "Re-encode photos stored before uploads were cleaned: upright, without EXIF (GPS, "
        "camera), XMP or comments. Photos already clean are left alone; safe to run again."
    )

    def handle(self, *args, **options):
        cleaned = seen = 0
        for attachment in Attachment.objects.order_by("pk").iterator(chunk_size=200):
            seen += 1
            cleaned += attachment_strip_metadata(attachment=attachment)
        self.stdout.write(f"Photos: {seen} checked, {cleaned} re-encoded without metadata.")
