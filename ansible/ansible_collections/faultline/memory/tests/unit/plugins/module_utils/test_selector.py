# -*- coding: utf-8 -*-
"""Label selectors in the service's canonical text (dev.faultline.label.LabelSelector#toString)."""

import unittest

from ansible_collections.faultline.memory.plugins.module_utils.selector import canonical_selector, same_selector


class SelectorTest(unittest.TestCase):

    def test_spellings_of_one_selector_have_one_canonical_text(self):
        for text, canonical in ((' app == db , tier in ( a , b ),!x', 'app=db,tier in (a,b),!x'),
                                ('app=db', 'app=db'),
                                ('app != db', 'app!=db'),
                                ('! app', '!app'),
                                ('example.com/owner', 'example.com/owner'),
                                ('tier notin (dev)', 'tier notin (dev)'),
                                ('a notin (x, )', 'a notin (x,)'),
                                ('env=', 'env='),
                                ('', ''),
                                ('   ', '')):
            with self.subTest(text=text):
                self.assertEqual(canonical_selector(text), canonical)

    def test_what_does_not_parse_stays_as_written_for_the_service_to_refuse(self):
        for text in ('tier in (', 'tier in ()', 'a b', 'a,', '=b', 'app=db;'):
            with self.subTest(text=text):
                self.assertEqual(canonical_selector(text), text)

    def test_the_order_of_requirements_matters_as_it_does_to_the_service(self):
        self.assertTrue(same_selector('app=db,tier=gold', 'app == db, tier = gold'))
        self.assertFalse(same_selector('app=db,tier=gold', 'tier=gold,app=db'))


if __name__ == '__main__':
    unittest.main()
