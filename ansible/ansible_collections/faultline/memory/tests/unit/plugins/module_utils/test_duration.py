# -*- coding: utf-8 -*-
"""Durations read as the service reads them (Spring Boot's two styles) and written as it writes them."""

import unittest

from ansible_collections.faultline.memory.plugins.module_utils.duration import (
    canonical_duration,
    duration_seconds,
    format_seconds,
)


class DurationTest(unittest.TestCase):

    def test_both_styles_become_the_text_the_service_answers_with(self):
        # the answers of a running service to these retention.maxAge values
        for text, stored in (('30d', 'P30D'), ('P30D', 'P30D'), ('p30d', 'P30D'), ('90m', 'PT1H30M'),
                             ('PT36H', 'PT36H'), ('P1DT12H', 'PT36H'), ('1H', 'PT1H'), (' 12h ', 'PT12H'),
                             ('1500ms', 'PT1S'), ('pt1.5s', 'PT1S'), ('86400s', 'P1D'), ('3601s', 'PT1H1S')):
            with self.subTest(text=text):
                self.assertEqual(canonical_duration(text), stored)

    def test_what_the_service_refuses_is_passed_on_as_written(self):
        # unit-less is milliseconds (less than the second the service requires), weeks are not java.time's
        for text in ('30', '1w', 'P2W', 'P', 'PT', 'P1DT', '-P1D', '0s', 'soon', ''):
            with self.subTest(text=text):
                self.assertEqual(canonical_duration(text), text)

    def test_whole_seconds_truncate_like_java_duration_to_seconds(self):
        self.assertEqual(duration_seconds('1h'), 3600)
        self.assertEqual(duration_seconds('PT0.9S'), 0)
        self.assertEqual(duration_seconds('30'), 0)
        self.assertIsNone(duration_seconds('1 hour'))
        self.assertIsNone(duration_seconds(None))

    def test_seconds_are_written_in_days_when_whole_else_as_java_writes_a_duration(self):
        self.assertEqual(format_seconds(400 * 86400), 'P400D')
        self.assertEqual(format_seconds(90061), 'PT25H1M1S')
        self.assertEqual(format_seconds(60), 'PT1M')


if __name__ == '__main__':
    unittest.main()
