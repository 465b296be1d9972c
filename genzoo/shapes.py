"""Shape arithmetic the convolutional models share."""

from __future__ import annotations

__all__ = ["conv_plan"]


def conv_plan(height: int, width: int) -> tuple[int, int, int]:
    """``(halvings, smallest_height, smallest_width)``: how many stride-2 layers lie between an
    image and its smallest feature map, halving while both sides are even and above 7.

    28×28 → 2 halvings to 7×7; 32×32 → 3 to 4×4; 64×64 → 4 to 4×4.

    Raises:
        ValueError: a side is not divisible by 4 or under 16 (fewer than two halvings).
    """
    halvings = 0
    while height % 2 == 0 and width % 2 == 0 and min(height, width) > 7:
        height, width, halvings = height // 2, width // 2, halvings + 1
    if halvings < 2:
        raise ValueError("convolutional models need image sides divisible by 4 and at least 16 "
                         f"(e.g. 28×28 or 32×32), got {height << halvings}×{width << halvings}")
    return halvings, height, width
