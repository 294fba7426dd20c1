# category: drift
# exit: 1
# stderr: jinja2.Markup was removed in Jinja2 3.1
# rerun: 0
from jinja2 import Markup

print(Markup("<b>%s</b>") % "<script>")
