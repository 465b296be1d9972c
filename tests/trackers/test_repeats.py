"""What a resumed run sends the trackers of the steps its interrupted runs logged already."""

from __future__ import annotations

from pathlib import Path

from genzoo.runner.trackers import Tracker, Trackers


class Recorder(Tracker):
    """A tracker that records what it is sent."""

    def __init__(self, resumed: bool) -> None:
        self.resumed = resumed
        self.sent: list[tuple[str, int]] = []

    def log_metrics(self, values, step):  # type: ignore[no-untyped-def]
        self.sent.append(("metrics", step))

    def log_image(self, path, step):  # type: ignore[no-untyped-def]
        self.sent.append(("image", step))


def test_a_continued_tracker_run_is_not_sent_the_steps_it_holds_and_a_new_one_is():
    continued, new = Recorder(resumed=True), Recorder(resumed=False)
    trackers = Trackers([continued, new])
    trackers.logged_through = 6  # the interrupted runs logged up to step 6
    for step in (5, 6, 7):
        trackers.log_metrics({"loss": 1.0}, step)
        trackers.log_image(Path("grid.png"))  # at the last step logged
    assert continued.sent == [("metrics", 7), ("image", 7)]
    assert new.sent == [(kind, step) for step in (5, 6, 7) for kind in ("metrics", "image")]
