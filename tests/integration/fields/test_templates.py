"""Template management, previews and reference finding against the database."""

from __future__ import annotations

import pytest

from ceramic_app.accounts.service import PermissionDenied, Principal
from ceramic_app.fields import service as fields
from ceramic_app.fields.errors import FieldError, NotFound
from ceramic_app.message_templates import service as templates
from ceramic_app.profiles import service as profiles


def test_create_and_preview(admin: Principal, member: Principal) -> None:
    fields.create_field(admin, key="first_name", label="First name", field_type="text")
    profile = profiles.create_profile(
        member,
        email="ada@example.com",
        custom_id="c7",
        attributes={"first_name": "Ada"},
    )
    template = templates.create_template(
        admin,
        "Welcome",
        blocks=[
            {"name": "Subject", "content": "Hi {{ first_name }}"},
            {
                "name": "Body",
                "content": "{{ email }} / {{ custom_id }} / [{{ missing }}]",
            },
            {"name": "Broken", "content": "{{ 1 / 0 }}"},
        ],
    )
    assert [block.name for block in template.blocks] == ["Subject", "Body", "Broken"]
    rendered = templates.preview_template(member, template.id, profile.id)
    assert [(r.output, r.error) for r in rendered[:2]] == [
        ("Hi Ada", None),
        ("ada@example.com / c7 / []", None),
    ]
    assert rendered[2].error is not None
    assert "division by zero" in rendered[2].error


def test_syntax_error_rejected(admin: Principal) -> None:
    with pytest.raises(FieldError, match="Block 'Body': syntax error on line 1"):
        templates.create_template(
            admin, "Bad", blocks=[{"name": "Body", "content": "{% if %}"}]
        )


def test_duplicate_block_names_rejected(admin: Principal) -> None:
    blocks = [{"name": "Body", "content": ""}, {"name": "body", "content": ""}]
    with pytest.raises(FieldError, match="Two blocks"):
        templates.create_template(admin, "Bad", blocks=blocks)


def test_update_replaces_blocks(admin: Principal) -> None:
    template = templates.create_template(
        admin, "T", blocks=[{"name": "A", "content": "a"}]
    )
    updated = templates.update_template(
        admin, template.id, name="T2", blocks=[{"name": "B", "content": "{{ plan }}"}]
    )
    assert updated.name == "T2"
    assert [(b.name, b.content) for b in updated.blocks] == [("B", "{{ plan }}")]
    [reference] = templates.find_field_references(admin, "plan")
    assert reference.block_name == "B"


def test_roles_and_isolation(
    admin: Principal, member: Principal, viewer: Principal, outsider: Principal
) -> None:
    template = templates.create_template(
        admin, "T", blocks=[{"name": "A", "content": "a"}]
    )
    with pytest.raises(PermissionDenied):
        templates.create_template(member, "X")
    with pytest.raises(PermissionDenied):
        templates.delete_template(member, template.id)
    assert templates.get_template(viewer, template.id).name == "T"
    with pytest.raises(NotFound):
        templates.get_template(outsider, template.id)
    assert templates.find_field_references(outsider, "a") == []
    templates.delete_template(admin, template.id)
    assert templates.list_templates(viewer) == []


def test_preview_of_foreign_profile(admin: Principal, outsider: Principal) -> None:
    template = templates.create_template(
        admin, "T", blocks=[{"name": "A", "content": "a"}]
    )
    foreign = profiles.create_profile(outsider, email="x@example.com")
    with pytest.raises(NotFound):
        templates.preview_template(admin, template.id, foreign.id)


def test_references_skip_lookalikes(admin: Principal) -> None:
    templates.create_template(
        admin,
        "T",
        blocks=[
            {"name": "Attr", "content": "{{ other.plan }}"},
            {"name": "Literal", "content": "{{ 'plan' }}"},
            {"name": "Longer", "content": "{{ plan_name }}"},
            {"name": "Text", "content": "the plan, outside a tag"},
            {"name": "Condition", "content": "{% if plan == 'gold' %}G{% endif %}"},
        ],
    )
    references = templates.find_field_references(admin, "plan")
    assert [r.block_name for r in references] == ["Condition"]
