# category: drift
# exit: 0
# stdout: cached 42
# stderr: werkzeug.contrib was removed in Werkzeug 1.0
from werkzeug.contrib.cache import SimpleCache

cache = SimpleCache()
cache.set("answer", 42)
print("cached", cache.get("answer"))
