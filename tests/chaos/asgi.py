"""The site's ASGI application for the chaos tests' daphne nodes, with shorter socket timers.

``CHAOS_REJOIN_INTERVAL`` (seconds) shortens how often a socket refreshes its
channel-layer groups, so a Redis restart is survived within a test's time.
"""

import os

from telephony_site.asgi import application

if os.environ.get("CHAOS_REJOIN_INTERVAL"):
    # Imported after the site: Django is set up by then.
    from connector.consumers import TelephonyConsumer

    TelephonyConsumer.rejoin_interval = float(os.environ["CHAOS_REJOIN_INTERVAL"])

__all__ = ["application"]
