from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _

from . import access
from .copies import ReferenceQuerySet
from .roles import Role


class DepartmentKind(models.TextChoices):
    BRANCH = "branch", _("分公司")
    LINE = "line", _("专业线")
    TEAM = "team", _("班组")


class Department(models.Model):
    """A node of the department tree (branch → professional line → team).

    `path` is a materialised path ("0001/0004/") kept by save(), so a subtree is one indexed
    prefix query. The tree has dozens of nodes; a tree library would add API for no gain.
    """

    name = models.CharField(_("名称"), max_length=64)
    code = models.SlugField(_("代码"), max_length=32, unique=True)
    kind = models.CharField(_("类型"), max_length=16, choices=DepartmentKind.choices)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("上级部门"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    path = models.CharField(max_length=255, editable=False, db_index=True, default="")
    is_active = models.BooleanField(_("启用"), default=True)

    # Bulk writes clear the per-process copies that hold departments (accounts.copies).
    objects = ReferenceQuerySet.as_manager()

    class Meta:
        verbose_name = _("部门")
        verbose_name_plural = _("部门")
        ordering = ["path"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        super().save(*args, **kwargs)
        new_path = (self.parent.path if self.parent_id else "") + f"{self.pk:04d}/"
        if new_path != self.path:
            old_path = self.path
            self.path = new_path
            Department.objects.filter(pk=self.pk).update(path=new_path)
            if old_path:
                for child in Department.objects.filter(path__startswith=old_path).exclude(
                    pk=self.pk
                ):
                    child.save()

    @property
    def depth(self) -> int:
        return self.path.count("/")

    def subtree(self):
        return Department.objects.filter(path__startswith=self.path)

    def is_within(self, ancestor: "Department | None") -> bool:
        return ancestor is not None and self.path.startswith(ancestor.path)


class User(AbstractUser):
    department = models.ForeignKey(
        Department,
        verbose_name=_("部门"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="members",
    )
    phone = models.CharField(_("手机"), max_length=20, blank=True)
    language = models.CharField(
        _("界面语言"),
        max_length=8,
        choices=[("zh-hans", "简体中文"), ("en", "English")],
        default="zh-hans",
    )

    class Meta:
        verbose_name = _("用户")
        verbose_name_plural = _("用户")

    def __str__(self) -> str:
        full = self.get_full_name()
        return f"{full} ({self.username})" if full else self.username

    @cached_property
    def roles(self) -> frozenset[str]:
        """Role codes this user holds (a user may hold several)."""
        if not self.is_active:
            return frozenset()
        valid = set(Role.values)
        if self.pk is None:
            return frozenset()
        return access.roles_of(
            self, lambda: (n for n in self.groups.values_list("name", flat=True) if n in valid)
        )

    # Rights are read from the per-process copy (accounts.access): three queries fewer on
    # every request. Object permissions and inactive users take Django's own path.
    def get_all_permissions(self, obj=None) -> set[str]:
        if obj is not None or not self.is_active or self.pk is None:
            return super().get_all_permissions(obj)
        return access.permissions_of(self, lambda: super(User, self).get_all_permissions())

    def has_perm(self, perm, obj=None) -> bool:
        if obj is None and self.is_active and not self.is_superuser:
            return perm in self.get_all_permissions()
        return super().has_perm(perm, obj)

    def has_role(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))
