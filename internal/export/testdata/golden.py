# Interp conversation conv_test: Squares and a plot
# Model: openai gpt-test
# Created: 2026-03-01T09:30:00Z

# %% [markdown]
# Task 1
#
# > Compute the squares of 1..3,
# > save them and plot them.

# %% [markdown]
# I'll use pandas for this.

# %%
import pandas as pd
df = pd.DataFrame({'n': [1, 2, 3]})
df['square'] = df.n ** 2
print(df.square.tolist())
df.to_csv('squares.csv', index=False)
df.plot(x='n', y='square')
df

# %% [markdown]
# Answer:
#
# The squares are 1, 4 and 9; they are in squares.csv.

# %% [markdown]
# Task 2
#
# > Now divide by zero.

# %%
# This cell failed: error: ZeroDivisionError: division by zero
1 / 0

# %% [markdown]
# Stopped (max_failures: 1 failed runs in a row, the limit)
