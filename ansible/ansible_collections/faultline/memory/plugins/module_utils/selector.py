# -*- coding: utf-8 -*-
"""Label selectors in the canonical text the service stores, to compare a task's selector with a stored one.

The service parses a selector (Kubernetes syntax: app=db, app!=db, tier in (a,b),
tier notin (a), app, !app; requirements separated by commas) and keeps its canonical text:
requirements in the order written, no spaces except around in/notin, = for ==. This is the
same tokenizer (dev.faultline.label.LabelSelector), without the checks of key and value syntax:
the service makes those, and answers a bad selector with a field error the user should see.
"""


class _Invalid(Exception):
    pass


class _Parser(object):

    def __init__(self, text):
        self.text = text
        self.pos = 0

    def parse(self):
        requirements = []
        self.skip_spaces()
        if self.at_end():
            return requirements
        while True:
            requirements.append(self.requirement())
            self.skip_spaces()
            if self.at_end():
                return requirements
            self.expect(',')

    def requirement(self):
        self.skip_spaces()
        if self.peek() == '!':
            self.pos += 1
            self.skip_spaces()
            return '!' + self.key()
        key = self.key()
        self.skip_spaces()
        if self.at_end() or self.peek() == ',':
            return key
        if self.peek() == '=':
            self.pos += 1
            if self.peek() == '=':
                self.pos += 1
            return key + '=' + self.value()
        if self.text.startswith('!=', self.pos):
            self.pos += 2
            return key + '!=' + self.value()
        word = self.word()
        if word in ('in', 'notin'):
            return '%s %s (%s)' % (key, word, ','.join(self.value_set()))
        raise _Invalid()

    def key(self):
        key = self.word()
        if not key:
            raise _Invalid()
        return key

    def value(self):
        self.skip_spaces()
        return self.word()

    def value_set(self):
        self.skip_spaces()
        self.expect('(')
        values = []
        while True:
            self.skip_spaces()
            value = self.value()
            self.skip_spaces()
            if not value and not values and (self.at_end() or self.peek() == ')'):
                raise _Invalid()
            values.append(value)
            if self.peek() == ')':
                self.pos += 1
                return values
            self.expect(',')

    def word(self):
        start = self.pos
        while not self.at_end() and (self.peek().isalnum() or self.peek() in '-_./'):
            self.pos += 1
        return self.text[start:self.pos]

    def expect(self, char):
        if self.peek() != char:
            raise _Invalid()
        self.pos += 1

    def skip_spaces(self):
        while not self.at_end() and self.peek().isspace():
            self.pos += 1

    def peek(self):
        return '' if self.at_end() else self.text[self.pos]

    def at_end(self):
        return self.pos >= len(self.text)


def canonical_selector(text):
    """The selector as the service would store it, or the text unchanged when it does not parse."""
    if not isinstance(text, str):
        return text
    try:
        return ','.join(_Parser(text).parse())
    except _Invalid:
        return text


def same_selector(current, desired):
    return canonical_selector(current) == canonical_selector(desired)
