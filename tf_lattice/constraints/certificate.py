"""The report type returned by every certificate function.

A certificate checks declared shape constraints exactly on given parameters.
Each constraint contributes one :class:`ConstraintCheck` holding its worst
violation (how far the parameters are from satisfying it, 0 when it holds) and
where that violation sits; the :class:`Certificate` holds only when every check
does.
"""

import dataclasses


@dataclasses.dataclass(frozen=True)
class ConstraintCheck:
    """The exact check of one declared constraint.

    Attributes:
      name: the constraint, e.g. ``"monotonicity[0]=increasing"``.
      worst_violation: the largest amount by which the parameters violate the
        constraint (``max(0, required - actual)`` over every inequality it
        implies); 0.0 when it holds.
      location: where the worst violation sits (unit, vertex, keypoint or
        weight indices), or None when the constraint holds.
      tolerance: violations at most this large count as holding (float
        rounding of the projection); 0.0 for an exact check.
    """

    name: str
    worst_violation: float
    location: object = None
    tolerance: float = 0.0

    @property
    def holds(self):
        return self.worst_violation <= self.tolerance


@dataclasses.dataclass(frozen=True)
class Certificate:
    """The exact check of every declared constraint on one set of parameters.

    Attributes:
      subject: what was checked (``"lattice"``, ``"calibrator 'age'"``, ...).
      checks: one :class:`ConstraintCheck` per declared constraint.
    """

    subject: str
    checks: tuple = ()

    @property
    def holds(self):
        """True only when every declared constraint holds."""
        return all(check.holds for check in self.checks)

    @property
    def violations(self):
        """The checks that fail."""
        return tuple(check for check in self.checks if not check.holds)

    def __bool__(self):
        return self.holds

    def merge(self, other, subject=None):
        """Returns one certificate holding the checks of both."""
        return Certificate(subject or self.subject, self.checks + other.checks)

    def __str__(self):
        lines = [f"{self.subject}: {'holds' if self.holds else 'VIOLATED'}"]
        for check in self.checks:
            status = "ok" if check.holds else f"violated by {check.worst_violation:.3g} at {check.location}"
            lines.append(f"  {check.name}: {status}")
        return "\n".join(lines)
