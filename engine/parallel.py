"""The one lock every prange kernel of the engine runs under.

Numba's default workqueue threading layer aborts the process when two threads enter
parallel kernels at once. The service runs several threads per worker (its gunicorn
config picks the thread-safe OpenMP layer, but a plain threaded caller of the engine
may not), so every parallel call holds this lock; serial kernels never need it.
"""

import threading

lock = threading.Lock()
