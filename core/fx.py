"""Currency codes: which are known, how Yahoo's minor units map to ISO, what a suffix implies.

Yahoo quotes London in pence (``GBp``), Johannesburg in cents (``ZAc``) and Tel Aviv in agorot
(``ILA``); the store keeps every price in the ISO major unit, so those are divided by 100 on the
way in. FX series are USD per one unit of a currency, Yahoo ticker ``<CCY>USD=X``.
"""

from __future__ import annotations

import re

KNOWN_CURRENCIES: frozenset[str] = frozenset(
    [
        "USD",
        "AUD",
        "CAD",
        "GBP",
        "EUR",
        "JPY",
        "CNY",
        "HKD",
        "KRW",
        "PLN",
        "CHF",
        "SEK",
        "NOK",
        "DKK",
        "NZD",
        "SGD",
        "ZAR",
        "ILS",
        "INR",
        "BRL",
        "MXN",
        "CLP",
        "PEN",
        "ARS",
        "COP",
        "TWD",
        "THB",
        "MYR",
        "IDR",
        "PHP",
        "VND",
        "TRY",
        "SAR",
        "AED",
        "QAR",
        "KZT",
        "MNT",
        "RUB",
        "CZK",
        "HUF",
        "RON",
        "NGN",
        "KES",
        "GHS",
    ]
)

# Yahoo's minor-unit codes -> (ISO major unit, factor that converts a quote to the major unit).
MINOR_UNITS: dict[str, tuple[str, float]] = {
    "GBp": ("GBP", 0.01),
    "GBX": ("GBP", 0.01),
    "ZAc": ("ZAR", 0.01),
    "ZAC": ("ZAR", 0.01),
    "ILA": ("ILS", 0.01),
}

# Documented default when a file carries no currency: the Yahoo suffix of its ticker.
# London (.L) and Johannesburg (.JO) files are assumed to be quoted in pence / cents.
SUFFIX_CURRENCY: dict[str, tuple[str, float]] = {
    "AX": ("AUD", 1.0),
    "T": ("JPY", 1.0),
    "TO": ("CAD", 1.0),
    "V": ("CAD", 1.0),
    "CN": ("CAD", 1.0),
    "NE": ("CAD", 1.0),
    "L": ("GBP", 0.01),
    "AS": ("EUR", 1.0),
    "PA": ("EUR", 1.0),
    "BR": ("EUR", 1.0),
    "DE": ("EUR", 1.0),
    "F": ("EUR", 1.0),
    "MI": ("EUR", 1.0),
    "HE": ("EUR", 1.0),
    "WA": ("PLN", 1.0),
    "KS": ("KRW", 1.0),
    "KQ": ("KRW", 1.0),
    "SS": ("CNY", 1.0),
    "SZ": ("CNY", 1.0),
    "HK": ("HKD", 1.0),
    "ST": ("SEK", 1.0),
    "OL": ("NOK", 1.0),
    "CO": ("DKK", 1.0),
    "SW": ("CHF", 1.0),
    "NZ": ("NZD", 1.0),
    "SI": ("SGD", 1.0),
    "JO": ("ZAR", 0.01),
    "NS": ("INR", 1.0),
    "BO": ("INR", 1.0),
    "SA": ("BRL", 1.0),
    "TW": ("TWD", 1.0),
}

_FX_TICKER = re.compile(r"^([A-Z]{3})USD=X$")


def normalise_currency(code: str) -> tuple[str, float]:
    """``(ISO code, factor to the major unit)`` for a Yahoo or ISO code; ValueError if unknown."""
    code = str(code).strip()
    if code in MINOR_UNITS:
        return MINOR_UNITS[code]
    if code.upper() in KNOWN_CURRENCIES:
        return code.upper(), 1.0
    raise ValueError(f"unknown currency {code!r} (expected an ISO 4217 code such as USD, AUD)")


def ticker_suffix(ticker: str) -> str:
    """The Yahoo exchange suffix of a ticker (``LYC.AX`` -> ``AX``), empty for US listings."""
    return ticker.rsplit(".", 1)[1].upper() if "." in ticker else ""


def infer_currency(ticker: str) -> tuple[str, float]:
    """Currency implied by a Yahoo suffix (see ``SUFFIX_CURRENCY``); no suffix means USD.

    ValueError for an unrecognised suffix, so an unknown market is never silently taken as USD.
    """
    suffix = ticker_suffix(ticker)
    if not suffix:
        return "USD", 1.0
    if suffix in SUFFIX_CURRENCY:
        return SUFFIX_CURRENCY[suffix]
    raise ValueError(f"cannot infer the currency of {ticker!r} from suffix .{suffix}; pass it")


def fx_ticker(currency: str) -> str:
    """Yahoo ticker of the USD-per-unit series of ``currency`` (``AUD`` -> ``AUDUSD=X``)."""
    return f"{currency}USD=X"


def fx_currency(ticker: str) -> str | None:
    """The currency of an FX ticker ``<CCY>USD=X``, else None."""
    m = _FX_TICKER.match(ticker.upper())
    return m.group(1) if m else None
