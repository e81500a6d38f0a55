"""Kubernetes resource quantities (``4Gi``, ``4096Mi``, ``4G``, ``500m``, ``0.5Ti``, ``1e9``).

The grammar is the one of ``k8s.io/apimachinery/pkg/api/resource``::

    <quantity>        ::= <signedNumber><suffix>
    <signedNumber>    ::= <sign><numeric> | <numeric>
    <numeric>         ::= <digits> | <digits>.<digits> | <digits>. | .<digits>
    <suffix>          ::= <binarySI> | <decimalExponent> | <decimalSI>
    <binarySI>        ::= Ki | Mi | Gi | Ti | Pi | Ei
    <decimalSI>       ::= n | u | m | "" | k | M | G | T | P | E
    <decimalExponent> ::= "e" <signedInteger> | "E" <signedInteger>

Values are exact (``Decimal``); like Kubernetes' ``Value()`` and ``MilliValue()``, memory is
rounded up to a whole byte and CPU up to a whole millicore. Anything else (``4GB``, ``4 Gi``,
``4gi``) is refused with the accepted forms listed, so the same request means the same thing
here and on a Kubernetes pod.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, localcontext
from typing import Any

from ..errors import InvalidInput

BINARY_SI = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
DECIMAL_SI = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}

QUANTITY = re.compile(
    r"(?P<sign>[+-]?)(?P<number>[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
    r"(?P<suffix>[KMGTPE]i|[numkMGTPE]|[eE][+-]?[0-9]+)?"
)

MEMORY_FORMS = (
    "a whole number of bytes (4294967296) or a Kubernetes quantity: 4Gi, 4096Mi, 0.5Ti "
    "(powers of 1024: Ki Mi Gi Ti Pi Ei), 4G, 500M (powers of 1000: k M G T P E) or 4e9"
)
CPU_FORMS = "a number of CPUs (2, 0.5) or a Kubernetes quantity in millicores (500m)"

#: Larger than any machine: the parser refuses it rather than compute with it.
ABSURD = Decimal(2) ** 63


def parse_quantity(text: str) -> Decimal | None:
    """The exact value of a Kubernetes quantity string, or None when it is not one."""
    match = QUANTITY.fullmatch(text)
    if match is None:
        return None
    suffix = match["suffix"] or ""
    number = Decimal(match["number"])
    if match["sign"] == "-":
        number = -number
    with localcontext() as ctx:
        ctx.prec = 80
        if suffix in BINARY_SI:
            return number * (Decimal(1024) ** BINARY_SI[suffix])
        if suffix in DECIMAL_SI:
            return number.scaleb(DECIMAL_SI[suffix])
        exponent = int(suffix[1:])
        if abs(exponent) > 1000:
            # Far beyond any resource; keep the arithmetic bounded.
            return Decimal("Infinity") if exponent > 0 and number else Decimal(0)
        return number.scaleb(exponent)


def _value(value: Any, *, field: str, forms: str) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise InvalidInput(f"{field} must be {forms}; got {value!r}", field=field)
    if isinstance(value, int):
        parsed: Decimal | None = Decimal(value)
    elif isinstance(value, float):
        parsed = Decimal(repr(value)) if math.isfinite(value) else None
    elif isinstance(value, str):
        parsed = parse_quantity(value)
    else:
        parsed = None
    if parsed is None:
        raise InvalidInput(f"{field}: {value!r} is not a quantity; use {forms}", field=field)
    if parsed <= 0:
        raise InvalidInput(f"{field} must be more than zero; got {value!r}", field=field)
    if parsed >= ABSURD:
        raise InvalidInput(f"{field}: {value!r} is larger than any machine", field=field)
    return parsed


def parse_bytes(value: Any, *, field: str = "memory") -> int:
    """Bytes from a JSON number or a quantity string, rounded up like Kubernetes ``Value()``."""
    return math.ceil(_value(value, field=field, forms=MEMORY_FORMS))


def parse_cpus(value: Any, *, field: str = "cpus") -> float:
    """CPUs from a number or a quantity, rounded up to a whole millicore (``MilliValue()``)."""
    millis = math.ceil(_value(value, field=field, forms=CPU_FORMS) * 1000)
    return millis / 1000


def parse_count(value: Any, *, field: str, allow_zero: bool = True) -> int:
    """A whole count (GPUs): JSON integers or digit strings only."""
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{field} must be a whole number; got {value!r}", field=field)
    if value < 0 or (value == 0 and not allow_zero):
        raise InvalidInput(f"{field} must not be negative; got {value}", field=field)
    return value


def format_bytes(value: int) -> str:
    """``4 GiB``, ``512 MiB``, ``100 B``: what people read in messages and the CLI."""
    amount = float(value)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if amount < 1024 or unit == "PiB":
            text = f"{amount:.1f}".removesuffix(".0") if unit != "B" else str(int(amount))
            return f"{text} {unit}"
        amount /= 1024
    raise AssertionError("unreachable")


def format_cpus(value: float) -> str:
    return f"{value:g} CPU" + ("" if value == 1 else "s")
