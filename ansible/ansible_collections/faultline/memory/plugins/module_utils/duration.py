# -*- coding: utf-8 -*-
"""Durations as the Faultline service reads and writes them, so a module compares what the service means.

The service takes a duration in either of Spring Boot's styles: ISO 8601 as java.time.Duration
reads it (P30D, PT12H, PT1H30M, P1DT12H) or the simple style, a whole number and a unit (30d,
12h, 90m, 1500ms; without a unit, milliseconds). It answers with one canonical form: whole days
as P<n>D, anything else as java.time.Duration.toString() (PT36H, PT1H30M). Comparing the
canonical forms keeps "30d" in a task and "P30D" from the service from looking like a change.
"""

import re

_NANOS = {'ns': 1, 'us': 1000, 'ms': 1000 ** 2, 's': 1000 ** 3, 'm': 60 * 1000 ** 3, 'h': 3600 * 1000 ** 3,
          'd': 86400 * 1000 ** 3}
_SIMPLE = re.compile(r'^([+-]?\d+)([a-zA-Z]{0,2})$')
_ISO = re.compile(r'^([-+]?)P(?:([-+]?\d+)D)?(?:T(?:([-+]?\d+)H)?(?:([-+]?\d+)M)?(?:([-+]?\d+)(?:[.,](\d{0,9}))?S)?)?$',
                  re.IGNORECASE)
_DAY = 86400


def parse_duration(text):
    """The duration as whole nanoseconds, or None when the service would not read it as one."""
    if not isinstance(text, str):
        return None
    text = text.strip()
    simple = _SIMPLE.match(text)
    if simple:
        unit = _NANOS.get(simple.group(2).lower() or 'ms')
        return None if unit is None else int(simple.group(1)) * unit
    iso = _ISO.match(text)
    # java.time.Duration.parse wants at least one field, and a T only before a time field
    if not iso or not any(iso.groups()[1:]) or text.upper().endswith('T'):
        return None
    sign, days, hours, minutes, seconds, fraction = iso.groups()
    nanos = (int(days or 0) * _DAY + int(hours or 0) * 3600 + int(minutes or 0) * 60 + int(seconds or 0)) * 1000 ** 3
    if fraction:
        fraction_nanos = int(fraction.ljust(9, '0'))
        nanos += -fraction_nanos if (seconds or '').startswith('-') else fraction_nanos
    return -nanos if sign == '-' else nanos


def duration_seconds(text):
    """Whole seconds of a duration (what the service keeps of a retention age), or None when it is none."""
    nanos = parse_duration(text)
    return None if nanos is None else nanos // 1000 ** 3


def format_seconds(seconds):
    """The service's canonical text for a positive number of seconds: P30D, PT36H, PT1H30M5S."""
    if seconds % _DAY == 0:
        return 'P%dD' % (seconds // _DAY)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return 'PT' + ''.join('%d%s' % (n, unit) for n, unit in ((hours, 'H'), (minutes, 'M'), (secs, 'S')) if n)


def canonical_duration(text):
    """The text the service would store for a positive duration of at least a second; anything else unchanged.

    What the service would refuse is passed on as written, so its refusal (with the field's
    name) reaches the user instead of a guess made here.
    """
    seconds = duration_seconds(text)
    if seconds is None or seconds <= 0:
        return text
    return format_seconds(seconds)
