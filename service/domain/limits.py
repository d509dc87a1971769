"""Fixed limits of the wire format: what every request must respect, whatever the deployment.

The configurable ones (request size, page size, ...) are `service.config.Limits`; these are part
of the API's contract, so validators and the OpenAPI document import them from here.
"""

from __future__ import annotations

# The largest magnitude an IEEE double, hence every JSON client, holds as an exact integer.
MAX_EXACT_INT = 2**53

# Redis's Lua prints a number with 14 significant digits: every step up to 10**12 round-trips
# exactly, with room to spare; no training loop reports a trillion steps.
MAX_STEP = 10**12

# Nesting of a request body: a study spec needs 5 levels, metadata a few more; deeper is an attack.
MAX_JSON_DEPTH = 32
