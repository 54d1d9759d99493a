"""Split softmax (paper Eq. 3): rescale a row's attention between a span C and the rest.

With pi = sum_{j in C} W[i, j]:  W'[i, j] = pi^tau / pi * W[i, j] for j in C, (1 - pi^tau) / (1 - pi) * W[i, j]
otherwise. Rows still sum to 1; tau = 1 is the identity, tau < 1 moves attention onto C, tau > 1 away from it.
A row with pi = 0 or pi = 1 has nothing to move and is left as it is.
"""

from __future__ import annotations

import math

import torch
from jaxtyping import Bool, Float
from torch import Tensor

from focus_interp.errors import FocusInterpError


def check_tau(tau: float) -> None:
    if not isinstance(tau, (int, float)) or math.isnan(tau) or tau < 0:
        raise FocusInterpError(f"tau must be a number >= 0 (1 leaves the model unchanged), got {tau}")


def split_factors(
    pi: Float[Tensor, "*rows 1"], tau: float | Float[Tensor, "*rows_or_1 1"]
) -> tuple[Float[Tensor, "*rows 1"], Float[Tensor, "*rows 1"]]:
    """The factors (inside C, outside C) that Eq. 3 multiplies a row's weights by, given its mass ``pi`` on C.

    Both are 1 where nothing can move (pi = 0, pi = 1) or tau = 1.
    """
    if isinstance(tau, Tensor):
        if torch.isnan(tau).any() or (tau < 0).any():
            raise FocusInterpError("tau must be >= 0 in every row (1 leaves a row unchanged)")
    else:
        check_tau(tau)
    movable = (pi > 0) & (pi < 1) & (torch.as_tensor(tau, device=pi.device) != 1)
    safe_pi = torch.where(movable, pi, torch.full_like(pi, 0.5))
    scaled = safe_pi**tau
    inside = torch.where(movable, scaled / safe_pi, torch.ones_like(pi))
    outside = torch.where(movable, (1 - scaled) / (1 - safe_pi), torch.ones_like(pi))
    return inside, outside


def split_softmax(
    weights: Float[Tensor, "*rows keys"],
    in_span: Bool[Tensor, "*rows_or_1 keys"],
    tau: float | Float[Tensor, "*rows_or_1 1"],
) -> Float[Tensor, "*rows keys"]:
    """``weights`` (rows of attention probabilities) with each row's mass on ``in_span`` raised to the power tau.

    ``tau`` is one number or a tensor that broadcasts to one exponent per row; rows whose tau is 1 are returned
    exactly as they are.
    """
    if not isinstance(tau, Tensor) and tau == 1:
        check_tau(tau)
        return weights
    inside, outside = split_factors((weights * in_span).sum(-1, keepdim=True), tau)
    return weights * torch.where(in_span, inside, outside)
