# category: drift
# exit: 1
# stderr: sklearn.cross_validation was removed in scikit-learn 0.20
# stderr: no release before it (0.19.2 or older) can be installed here: none has a wheel for this Python
from sklearn.cross_validation import train_test_split

print(train_test_split([1, 2, 3, 4], test_size=0.5))
