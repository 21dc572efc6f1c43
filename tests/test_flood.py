"""Serial flood (issue 11, item 1): random lines into the running firmware: printable,
binary, non-UTF-8, NUL, a long line without a newline, lines typed slowly byte by byte,
JSON of the wrong shape (never Ctrl-C: that is the REPL's). Every command-shaped line gets
exactly one reply, `status` answers afterwards, the config is unchanged, no exposure or
motion. CI: 600 lines on the virtual Pico; `make soak`: 10,000 on the virtual Pico and
1,000 on the rp2040 target (tools/soak.py flood)."""


from reliability import soak


def test_reply_count_model():
    owe = soak.replies_expected
    assert owe(b"status\n") == (1, b"")
    assert owe(b"   \n\t\n") == (0, b"")                     # blank: no reply
    assert owe(b"\xff\n") == (1, b"")                        # not UTF-8: one error
    assert owe(b" " * 300 + b"\n") == (1, b"")                # too long, even if blank
    assert owe(b"ping\r\n") == (1, b"")                       # CR ends it, LF is blank
    assert owe(b"\x00\x01\n") == (1, b"")                     # control characters only
    assert owe(b"pi") == (0, b"pi")


def test_flood_of_bad_lines_one_reply_each_nothing_changes():
    fig = soak.flood("vpico", 600)
    assert fig["replies"] == fig["replies_owed"] > 400
    assert fig["kinds"]["long"] == 1 and fig["kinds"]["slow"] >= 10
    assert fig["boot_events"] == 1
