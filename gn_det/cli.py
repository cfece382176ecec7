"""Command-line parsing shared by the tools that take trailing KEY VALUE config overrides.

detectron2's tools collect everything after the first override into ``opts``
(``argparse.REMAINDER``), so a flag typed after the overrides (``... SOLVER.BASE_LR 0.01 --resume``)
became an override and failed with a misleading "odd number of overrides" or "unknown config key
--resume". :func:`parse_args` takes the parser's flags wherever they appear.
"""
import sys


def parse_args(parser, argv=None, override_tokens=2):
    """``parser.parse_args(argv)``, where ``parser`` ends with an ``opts`` REMAINDER positional,
    also accepting the parser's flags placed among or after the KEY VALUE overrides.

    Config keys never start with "-", so a "-" token where a KEY is expected is a flag: it and its
    arguments move before the overrides. A flag the parser does not know is argparse's usual error.
    ``override_tokens``: tokens per override (2 for KEY VALUE, 1 for LazyConfig's key=value).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    overrides = args.opts or []
    flags, pairs = _separate_flags(parser, overrides, override_tokens)
    if flags:
        args = parser.parse_args(argv[:len(argv) - len(overrides)] + flags)
    args.opts = pairs
    return args


def _separate_flags(parser, tokens, override_tokens):
    # Walks the overrides; returns (flag tokens with their arguments, the override tokens).
    flags, pairs, index = [], [], 0
    while index < len(tokens):
        token = tokens[index]
        if not token.startswith("-"):
            pairs += tokens[index:index + override_tokens]
            index += override_tokens
            continue
        count = 1 + _argument_count(parser, token)
        flags += tokens[index:index + count]
        index += count
    return flags, pairs


def _argument_count(parser, token):
    # How many tokens after ``token`` belong to it.
    name, has_value = token.split("=", 1)[0], "=" in token
    actions = parser._option_string_actions
    # Unique prefixes of long options are accepted, as argparse does before the overrides.
    prefixed = {action for option, action in actions.items()
                if name.startswith("--") and option.startswith(name)}
    action = actions.get(name) or (prefixed.pop() if len(prefixed) == 1 else None)
    if action is None:
        parser.error(f"unrecognized arguments: {token}")
    if has_value or action.nargs == 0:
        return 0
    if action.nargs is None:
        return 1
    if isinstance(action.nargs, int):
        return action.nargs
    parser.error(f"put {token} before the KEY VALUE config overrides")
