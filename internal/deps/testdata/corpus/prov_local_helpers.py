# category: provenance
# exit: 1
# stderr: no PyPI project provides helpers_for_my_thesis_zz; is it a local module, or part of another application?
import helpers_for_my_thesis_zz as h

h.run()
