"""Every change this package makes to a Keras object, recorded so that one `undo()` reverts them all.

Like pytest's `monkeypatch`: a stack of `(object, name, old value)`. An entry is only reverted while
the object still holds what was put there, so a change someone else made since is left alone.
Attributes are set in the instance's `__dict__`, past Keras's attribute tracking, so that Keras never
saves, counts or serializes what the package puts there.
"""

from __future__ import annotations

MISSING = object()


class Patches:
    """A record of instance attributes set and list items appended, with one `undo()`.

    Example:

    >>> class Thing:
    ...     def apply(self):
    ...         return "own"
    >>> thing, items = Thing(), [1]
    >>> patches = Patches()
    >>> patches.set(thing, "apply", lambda: "patched")
    >>> patches.append(items, 2)
    >>> thing.apply(), items
    ('patched', [1, 2])
    >>> patches.undo()
    >>> thing.apply(), items
    ('own', [1])
    """

    def __init__(self):
        self._stack = []

    def __bool__(self):
        return bool(self._stack)

    def set(self, obj, name, value):
        """Sets `obj.name = value` in the instance's own `__dict__`."""
        self._stack.append(("attribute", obj, name, obj.__dict__.get(name, MISSING), value))
        obj.__dict__[name] = value

    def append(self, items, item):
        """Appends `item` to the list `items`; `undo` removes it again (by identity)."""
        self._stack.append(("item", items, None, None, item))
        items.append(item)

    def undo(self):
        """Reverts every change, newest first; safe to call twice."""
        while self._stack:
            kind, obj, name, old, new = self._stack.pop()
            if kind == "item":
                for index in reversed(range(len(obj))):
                    if obj[index] is new:  # by identity: `==` on variables compares values
                        del obj[index]
                        break
            elif obj.__dict__.get(name, MISSING) is new:
                if old is MISSING:
                    del obj.__dict__[name]
                else:
                    obj.__dict__[name] = old
