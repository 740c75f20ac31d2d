"""``actiongen typing train`` and ``actiongen scroll fit``: add them with :func:`add_typing_parsers`."""

from __future__ import annotations

from actiongen_keras.atomic import staged_output
from actiongen_keras.cliargs import add_overwrite, int_at_least


def _cmd_typing_train(args):
    from actiongen_keras.training.keystrokes import train_keystroke_model  # deferred: imports TensorFlow

    with staged_output(args.out, args.overwrite, [args.data]) as work:
        meta = train_keystroke_model(args.data, work, max_people=args.max_people, epochs=args.epochs, seed=args.seed,
                                     verbose=0 if args.quiet else 2)
    print(f"wrote {args.out}: trained on {len(meta['people'])} typists ({meta['rows']} keystrokes) in {meta['train_seconds']} s, "
          f"validation NLL {meta['val_loss'][-1]:.3f} on {len(meta['validation_people'])} of them; typo rate "
          f"{meta['typos']['rate_per_key']:.4f} per key. NON-COMMERCIAL RESEARCH USE ONLY (see {args.out}/NOTICE).")
    _print_repairs(meta["repairs"], f"{args.out}/meta.json")
    return 0


def _cmd_scroll_fit(args):
    from actiongen_keras.training.scroll import fit_scroll_model

    with staged_output(args.out, args.overwrite, [args.data]) as work:
        meta = fit_scroll_model(args.data, work, max_sessions=args.max_sessions)
    print(f"wrote {args.out}: wheel intervals of {len(meta['people'])} people (held out: {', '.join(meta['held_out_people'])})")
    _print_repairs(meta["repairs"], f"{args.out}/scroll.json")
    return 0


def _print_repairs(lines, where, show=10):
    """The data a fit dropped or repaired, one line per file and kind (all of them in ``where``)."""
    if lines:
        print(f"  rows dropped or repaired in {len(lines)} file/kind(s), all listed in {where} 'repairs':")
        for line in lines[:show]:
            print("  " + line)


def add_typing_parsers(subparsers):
    s = subparsers.add_parser("typing", help="the keystroke-timing model of type goals (generation/typing.py)")
    sub = s.add_subparsers(dest="typing_command", required=True)
    t = sub.add_parser("train", help="train it on the Aalto typing data (person-disjoint; non-commercial research use only)")
    t.add_argument("--data", required=True, help="the keystrokes_aalto folder (participants/<ID>_keystrokes.txt.gz)")
    t.add_argument("--out", required=True, help="MODEL_DIR: model.keras, meta.json, NOTICE")
    t.add_argument("--max-people", type=int_at_least(2), default=600, help="training typists read, in id order (default 600)")
    t.add_argument("--epochs", type=int_at_least(1), default=12, help="default 12")
    t.add_argument("--seed", type=int, default=0)
    add_overwrite(t, "MODEL_DIR")
    t.set_defaults(func=_cmd_typing_train)

    s = subparsers.add_parser("scroll", help="the wheel model of scroll goals (generation/scrolling.py)")
    sub = s.add_subparsers(dest="scroll_command", required=True)
    f = sub.add_parser("fit", help="fit the inter-notch intervals on Balabit's wheel notches (person-disjoint)")
    f.add_argument("--data", required=True, help="the balabit folder (training_files/userN/session_*)")
    f.add_argument("--out", required=True, help="MODEL_DIR: scroll.json, NOTICE")
    f.add_argument("--max-sessions", type=int_at_least(1), help="session files read per person (default all)")
    add_overwrite(f, "MODEL_DIR")
    f.set_defaults(func=_cmd_scroll_fit)


__all__ = ["add_typing_parsers"]
