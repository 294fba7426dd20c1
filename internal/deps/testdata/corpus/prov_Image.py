# category: provenance
# exit: 1
# stderr: no PyPI project provides Image
import Image

im = Image.open("photo.jpg")
