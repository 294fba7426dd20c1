# category: drift
# exit: 1
# stderr: pymongo.Connection was removed in pymongo 3.0
from pymongo import Connection

db = Connection("localhost", 27017).test
