"""Quantities parse exactly like Kubernetes' resource.ParseQuantity, and nothing else parses."""

from __future__ import annotations

import re
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from labrig.errors import InvalidInput
from labrig.resources.quantity import (
    format_bytes,
    parse_bytes,
    parse_count,
    parse_cpus,
    parse_quantity,
)

#: The pattern Kubernetes publishes for Quantity in its OpenAPI schema.
K8S_PATTERN = re.compile(
    r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))"
    r"(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
)
BINARY = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}

digits = st.text("0123456789", min_size=1, max_size=12)
numbers = st.one_of(
    digits,
    st.builds(lambda a, b: f"{a}.{b}", digits, digits),
    st.builds(lambda a: f"{a}.", digits),
    st.builds(lambda b: f".{b}", digits),
)
suffixes = st.one_of(
    st.sampled_from(sorted(BINARY)),
    st.sampled_from(sorted(DECIMAL)),
    st.builds(
        lambda e, s, n: f"{e}{s}{n}",
        st.sampled_from("eE"),
        st.sampled_from(["", "+", "-"]),
        st.integers(0, 40).map(str),
    ),
)


def expected(sign: str, number: str, suffix: str) -> Fraction:
    """The value by the grammar's definition, computed independently with Fractions."""
    whole, _, frac = number.partition(".")
    value = Fraction(int(whole or "0")) + (Fraction(int(frac), 10 ** len(frac)) if frac else 0)
    if suffix in BINARY:
        value *= 2 ** BINARY[suffix]
    elif suffix in DECIMAL:
        value *= Fraction(10) ** DECIMAL[suffix]
    else:
        value *= Fraction(10) ** int(suffix[1:])
    return -value if sign == "-" else value


@given(st.sampled_from(["", "+", "-"]), numbers, suffixes)
def test_every_string_of_the_grammar_parses_to_its_exact_value(
    sign: str, number: str, suffix: str
) -> None:
    text = f"{sign}{number}{suffix}"
    assert K8S_PATTERN.match(text)
    parsed = parse_quantity(text)
    assert parsed is not None, text
    assert Fraction(parsed) == expected(sign, number, suffix)


@given(st.text(alphabet="0123456789.+-eEKMGTPEimnukBb xX_", max_size=10))
def test_anything_outside_the_grammar_is_refused(text: str) -> None:
    parsed = parse_quantity(text)
    matches = K8S_PATTERN.match(text) is not None
    # Kubernetes' parser takes only whole exponents, which its published pattern does not say.
    fractional_exponent = re.search(r"[eE][+-]?[0-9]*\.", text) is not None
    assert (parsed is not None) == (matches and not fractional_exponent), text


@given(st.integers(1, 2**62))
def test_plain_byte_counts_round_trip(value: int) -> None:
    assert parse_bytes(value) == value
    assert parse_bytes(str(value)) == value


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("4Gi", 4 * 2**30),
        ("4096Mi", 4 * 2**30),
        ("4G", 4 * 10**9),
        ("0.5Ti", 2**39),
        ("1e9", 10**9),
        ("1E", 10**18),
        ("1.5k", 1500),
        ("+128Mi", 128 * 2**20),
        (".5Gi", 2**29),
        ("500m", 1),  # Kubernetes rounds memory up to a whole byte
        (1073741824, 2**30),
        (2.5e9, 2_500_000_000),
    ],
)
def test_memory_in_the_units_people_type(text: object, value: int) -> None:
    assert parse_bytes(text) == value


@pytest.mark.parametrize(
    ("text", "value"),
    [("500m", 0.5), ("2", 2.0), (2, 2.0), (0.25, 0.25), ("1.0001", 1.001), ("1e0", 1.0)],
)
def test_cpus(text: object, value: float) -> None:
    assert parse_cpus(text) == value


@pytest.mark.parametrize(
    "text", ["4GB", "4 Gi", "4gi", "1K", "", "Gi", "1e", "1e1.5", "1Ki5", "0x10", "1_000", "ten"]
)
def test_other_forms_are_refused_listing_the_accepted_ones(text: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_bytes(text)
    assert caught.value.field == "memory"
    assert "4Gi" in caught.value.message
    assert "4096Mi" in caught.value.message


@pytest.mark.parametrize("value", [0, -1, "0", "-4Gi", "0.0", "0m"])
def test_zero_and_negative_are_refused(value: object) -> None:
    with pytest.raises(InvalidInput, match="more than zero") as caught:
        parse_bytes(value, field="disk")
    assert caught.value.field == "disk"


@pytest.mark.parametrize("value", [True, None, [], {}, float("nan"), float("inf"), "9e99", 2**64])
def test_non_numbers_and_absurd_values_are_refused(value: object) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_cpus(value)
    assert caught.value.field == "cpus"


@pytest.mark.parametrize("value", [-1, 1.5, "two", True])
def test_counts_are_whole_and_not_negative(value: object) -> None:
    with pytest.raises(InvalidInput):
        parse_count(value, field="gpus")


def test_exact_decimal_arithmetic() -> None:
    assert parse_quantity("0.1") == Decimal("0.1")
    assert parse_quantity("1e-9") == parse_quantity("1n")
    assert format_bytes(4 * 2**30) == "4 GiB"
    assert format_bytes(3 * 2**29) == "1.5 GiB"
