"""The create serializer's fields are shallow copies of its declarations (api/serializers.py
`TicketCreateSerializer.get_fields`): each serializer validates with its own bound fields, the
declarations stay unbound, and bad input gets DRF's messages as with DRF's deep copies."""

from __future__ import annotations

import copy

import pytest

from api.serializers import TicketCreateSerializer

pytestmark = pytest.mark.django_db


def test_each_serializer_binds_its_own_fields_and_the_declarations_stay_unbound(cast):
    first = TicketCreateSerializer(data={"category": cast.category.pk})
    second = TicketCreateSerializer(data={"category": cast.category.code})
    assert not first.is_valid() and not second.is_valid()
    for name, declared in TicketCreateSerializer._declared_fields.items():
        assert first.fields[name] is not second.fields[name] is not declared
        assert first.fields[name].parent is first and second.fields[name].parent is second
        assert first.fields[name].field_name == name
        assert declared.field_name is None and declared.parent is None


def test_bad_input_gets_the_same_errors_as_with_drfs_own_copies(cast):
    class DeepCopied(TicketCreateSerializer):
        def get_fields(self):
            return copy.deepcopy(self._declared_fields)

    cases = [
        {},
        {"category": "nope", "customer_phone": "1" * 30, "description": ""},
        {
            "category": cast.category.pk,
            "customer_phone": "13800138000",
            "description": "x",
            "star_level": 9,
            "latitude": "95",
            "channel": "fax",
            "urgency": "",
            "title": "t" * 200,
        },
        {"category": True, "customer_phone": None, "description": "\x00", "is_elderly": "maybe"},
    ]
    for data in cases:
        ours, theirs = TicketCreateSerializer(data=data), DeepCopied(data=data)
        assert ours.is_valid() == theirs.is_valid()
        assert ours.errors == theirs.errors
    good = {"category": cast.category.code, "customer_phone": "13800138000", "description": "断网"}
    ours, theirs = TicketCreateSerializer(data=good), DeepCopied(data=good)
    assert ours.is_valid() and theirs.is_valid()
    assert ours.validated_data == theirs.validated_data
