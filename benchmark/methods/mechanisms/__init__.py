"""What the one-training rivals train and measure (torch code): the ARD prior, nested
dropout. The method modules one level up declare the methods and call into these only
when a method runs, so that the registry loads no torch."""
