"""`fn_args`: the argument names the Estimator may pass to a model_fn or an input_fn;
`all_instances`: the check of the hooks and listeners the API takes."""

from __future__ import annotations

import functools
import inspect

_NAMED = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


def fn_args(fn) -> tuple[str, ...]:
    """The names of `fn`'s positional-or-keyword arguments that a caller may still pass.

    As tf.estimator's `fn_args`: for a `functools.partial` (nested ones too), the
    arguments it binds, positionally or by keyword, are left out, so the Estimator
    never passes them again; a bound method's `self` (or a classmethod's `cls`) and
    a callable object's `self` are left out; keyword-only arguments and
    `*args`/`**kwargs` are not named.

    Args:
      fn: a function, bound method, `functools.partial` or callable object.

    Returns:
      A tuple of argument names, in order.

    Raises:
      ValueError: `fn` has no signature Python can inspect (e.g. some builtins).
    """
    if isinstance(fn, functools.partial):
        names = fn_args(fn.func)[len(fn.args) :]
        return tuple(name for name in names if name not in (fn.keywords or {}))
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError) as e:
        raise ValueError(f"cannot read the arguments of {fn!r}: {e}") from e
    return tuple(p.name for p in parameters if p.kind in _NAMED)


def all_instances(values, cls, what: str) -> tuple:
    """`values` (an iterable; None for none) as a tuple, each an instance of `cls`.

    Raises:
      TypeError: "<what>, found <type>: <value>" for the first value that is not.
    """
    values = tuple(values or ())
    for value in values:
        if not isinstance(value, cls):
            raise TypeError(f"{what}, found {type(value).__name__}: {value!r}")
    return values
