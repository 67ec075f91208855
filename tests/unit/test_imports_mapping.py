"""Header normalization, synonyms, type inference and mapping checks."""

from __future__ import annotations

import pytest

from ceramic_app.imports.mapping import (
    FieldInfo,
    ImportOptions,
    MappingError,
    check_mapping,
    field_key_for,
    infer_type,
    normalize_header,
    propose_mapping,
)
from ceramic_app.models import FieldType


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (" E-mail Address ", "e mail address"),
        ("LAST_NAME", "last name"),
        ("First--Name", "first name"),
        ("\ufeffemail", "email"),
        ("Ｅｍａｉｌ", "email"),
    ],
)
def test_normalize_header(header, expected) -> None:
    assert normalize_header(header) == expected


@pytest.mark.parametrize(
    ("header", "key"),
    [
        ("Date of Birth", "date_of_birth"),
        ("Newsletter Opt-In", "newsletter_opt_in"),
        ("2nd phone", "f_2nd_phone"),
        ("Größe", "grosse"),
        ("!!!", "field"),
    ],
)
def test_field_key_for(header, key) -> None:
    assert field_key_for(header) == key


def targets(headers, fields=(), samples=()) -> list[tuple]:
    proposal = propose_mapping(list(headers), list(fields), [list(r) for r in samples])
    return [(c["target"], c.get("key")) for c in proposal["columns"]]


@pytest.mark.parametrize(
    "header", ["Email", "E-mail Address", " e_mail ", "mail", "EMAIL ADDRESS"]
)
def test_email_synonyms(header) -> None:
    assert targets([header]) == [("email", None)]


@pytest.mark.parametrize(
    "header", ["Custom ID", "external id", "External-ID", "customer_id"]
)
def test_custom_id_synonyms(header) -> None:
    assert targets(["email", header])[1] == ("custom_id", None)


def test_name_synonyms_and_existing_fields() -> None:
    fields = [FieldInfo("first_name", "First name", FieldType.TEXT, {})]
    assert targets(["email", "Given Name", "Surname", "Tags"], fields) == [
        ("email", None),
        ("field", "first_name"),
        ("new_field", "last_name"),
        ("tags", None),
    ]


def test_existing_field_matched_by_label() -> None:
    fields = [FieldInfo("dob", "Date of Birth", FieldType.DATE, {})]
    assert targets(["email", "date-of-birth"], fields)[1] == ("field", "dob")


def test_calculated_field_not_proposed() -> None:
    fields = [FieldInfo("score", "Score", FieldType.NUMBER, {}, expression="a + b")]
    proposal = propose_mapping(["email", "score"], fields, [])
    assert proposal["columns"][1]["target"] == "skip"
    assert "calculated" in proposal["columns"][1]["notes"][0]


def test_duplicate_and_blank_headers_flagged() -> None:
    proposal = propose_mapping(["email", "city", "City", "", "Email"], [], [])
    columns = proposal["columns"]
    # Neither duplicate is chosen: the user decides which column is meant.
    assert [c["target"] for c in columns] == ["skip"] * 5
    assert "Duplicate header 'city' (also column 3)" in columns[1]["notes"][0]
    assert "Duplicate header 'Email' (also column 1)" in columns[4]["notes"][0]
    assert "no header" in columns[3]["notes"][0]
    _, problems = check_mapping(
        proposal, ["email", "city", "City", "", "Email"], [], ImportOptions()
    )
    assert "No column is mapped to email" in problems[0]


def test_error_file_columns_skipped() -> None:
    assert targets(["email", "name", "line", "reason"])[2:] == [
        ("skip", None),
        ("skip", None),
    ]


@pytest.mark.parametrize(
    ("header", "values", "expected"),
    [
        ("postal_code", ["01730", "10115"], "text"),
        ("amount", ["01730", "10115"], "text"),
        ("phone", ["+44 20 7946 0000"], "text"),
        ("contact", ["0049 30 5550101"], "text"),
        ("member_no", ["7", "0"], "text"),
        ("big", ["1234567890123456"], "text"),
        ("score", ["-5", "7", "0.5"], "number"),
        ("flag", ["0", "1"], "number"),
        ("opt_in", ["yes", "no", ""], "boolean"),
        ("vip", ["TRUE", "false", "maybe"], "text"),
        ("signup", ["2024-01-01", "2023-12-31"], "date"),
        ("prefs", ['{"a": 1}', "[1]"], "json"),
        ("interests", ['["a","b"]', "[]"], "array"),
        ("note", ['{"broken": no}'], "text"),
        ("mixed", ["2024-01-01", "15 Jan 2024"], "text"),
    ],
)
def test_infer_type(header, values, expected) -> None:
    assert infer_type(header, values).type == expected


def test_infer_ambiguous_dates_need_choice() -> None:
    inferred = infer_type("birthday", ["03/04/1990", "05/06/1991"])
    assert inferred.type == "date"
    assert inferred.needs_choice == ["DD/MM/YYYY", "MM/DD/YYYY"]
    hinted = infer_type("birthday", ["13/04/1990", "05/06/1991"])
    assert hinted.needs_choice == ["DD/MM/YYYY", "MM/DD/YYYY"]
    assert "suggests DD/MM/YYYY" in hinted.notes[0]


def test_infer_decimal_comma() -> None:
    inferred = infer_type("price", ["1,5", "2,25"])
    assert inferred.type == "number"
    assert "decimal comma" in inferred.notes[0]


def test_check_mapping_problems() -> None:
    fields = [
        FieldInfo("score", "Score", FieldType.NUMBER, {}, expression="x"),
        FieldInfo("city", "City", FieldType.TEXT, {}, status="converting"),
        FieldInfo("plan", "Plan", FieldType.TEXT, {}),
    ]
    headers = ["mail", "a", "b", "c", "d", "e"]
    mapping = {
        "columns": [
            {"index": 1, "target": "field", "key": "score"},
            {"index": 2, "target": "field", "key": "city"},
            {"index": 3, "target": "new_field", "key": "Bad Key"},
            {"index": 4, "target": "new_field", "key": "plan", "type": "text"},
            {"index": 5, "target": "new_field", "key": "x1", "type": "money"},
            {"index": 9, "target": "skip"},
        ]
    }
    plan, problems = check_mapping(mapping, headers, fields, ImportOptions())
    assert plan is None
    text = "\n".join(problems)
    assert "field 'score' is calculated (read-only)" in text
    assert "is being convert" in text
    assert "must match ^[a-z][a-z0-9_]{0,62}$" in text
    assert "field 'plan' already exists" in text
    assert "unknown type 'money'" in text
    assert "Column index 9 does not exist" in text
    assert "No column is mapped to email" in text


def test_check_mapping_same_key_twice() -> None:
    mapping = {
        "columns": [
            {"index": 0, "target": "email"},
            {"index": 1, "target": "new_field", "key": "x", "type": "text"},
            {"index": 2, "target": "new_field", "key": "x", "type": "text"},
        ]
    }
    plan, problems = check_mapping(mapping, ["e", "a", "b"], [], ImportOptions())
    assert plan is None
    assert "both map to field 'x'" in problems[0]


def test_options_validated() -> None:
    with pytest.raises(MappingError, match="mode must be one of"):
        ImportOptions.from_json({"mode": "merge"})
    with pytest.raises(MappingError, match="Unknown import options: colour"):
        ImportOptions.from_json({"colour": "red"})
    with pytest.raises(MappingError, match="date format"):
        ImportOptions.from_json({"date_formats": {"d": "YY/MM/DD"}})
    assert ImportOptions.from_json({"excel_dates": "1904"}).excel_dates == "1904"


def test_infer_near_miss_boolean_hint() -> None:
    values = ["yes", "no"] * 9 + ["maybe", "ja"]
    inferred = infer_type("vip", values)
    assert inferred.type == "text"
    assert inferred.notes == [
        "18 of 20 sampled values look like boolean; kept as text because 2 do"
        " not (e.g. 'maybe'). Choose boolean to import them typed and reject"
        " the others."
    ]


@pytest.mark.parametrize(
    ("header", "values", "kind"),
    [
        ("signup", ["2024-01-01", "2023-12-31", "45292"], "date"),
        ("prefs", ['{"a": 1}', "[1]", '{"broken": no}'], "json"),
        ("score", ["5", "7", "n/a"], "number"),
    ],
)
def test_infer_near_miss_hints(header, values, kind) -> None:
    inferred = infer_type(header, values)
    assert inferred.type == "text"
    assert inferred.notes is not None
    assert inferred.notes[0].startswith(f"2 of 3 sampled values look like {kind};")


def test_infer_no_hint_for_identifiers() -> None:
    inferred = infer_type("member_no", ["7", "12", "A-3"])
    assert inferred.type == "text"
    assert inferred.notes is None


def test_infer_no_hint_for_plain_text() -> None:
    assert infer_type("city", ["Lisbon", "Lagos", "1"]).notes is None
