from helpers import events

from actiongen_keras.evaluation import coherence as C


def test_counts_on_a_hand_made_session():
    rows = [
        (0, "move", 0, 0, "", ""), (10, "move", 1, 0, "", ""),
        (20, "release", 1, 0, "left", ""),            # release without press
        (30, "key_up", 1, 0, "", "k1"),               # key_up without key_down
        (40, "press", 1, 0, "left", ""), (50, "press", 1, 0, "left", ""),  # press while held
        (60, "release", 1, 0, "left", ""),
        (70, "move", 501, 0, "", ""),                 # 500 px in 60 ms: 8333 px/s
        (80, "move", 502, 0, "", ""),                 # 100 px/s
        (1080, "move", 503, 0, "", ""),               # 1000 ms pause
        (1100, "key_down", 503, 0, "", "k2"),         # held at end
        (6100, "move", 504, 0, "", ""),               # 5000 ms pause
    ]
    v = C.violations(events(rows), max_speed=5000.0, rate_range=(1.0, 100.0), pause_range=(100.0, 2000.0))
    assert v["release_without_press"] == 1
    assert v["key_up_without_key_down"] == 1
    assert v["press_while_held"] == 1
    assert v["key_down_while_held"] == 0
    assert v["held_at_end"] == 1
    assert v["speed_above_human"] == 1
    assert v["pause_outside_human"] == 1  # 5000 ms; 1000 ms is inside
    # segments of 3 s: [0,3000) 11 events = 3.7/s, [3000,6000) none = 0/s (outside), the 100 ms tail is dropped
    assert v["n_segments"] == 2 and v["rate_outside_human"] == 1


def test_human_ranges_from_real():
    rows = [(10.0 * i, "move", float(i), 0.0, "", "") for i in range(100)]
    r = C.human_ranges([events(rows)])
    assert abs(r["max_speed"] - 100.0) < 1e-9
