"""The event contract: envelope, every context's events, codec and upcasters."""

from truenorth.contract.alignment import *  # noqa: F403
from truenorth.contract.campaigns import *  # noqa: F403
from truenorth.contract.common import *  # noqa: F403
from truenorth.contract.envelope import *  # noqa: F403
from truenorth.contract.metrics import *  # noqa: F403
from truenorth.contract.registry import *  # noqa: F403
from truenorth.contract.strategy import *  # noqa: F403
