"""Operations with backend-specific fast paths: each picks, for the backend it runs on and the
shapes it is given, the form measured fastest there, and gives the standard operation's values
everywhere."""
