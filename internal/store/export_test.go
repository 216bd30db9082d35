package store

// SQLiteCipher lets a benchmark compare SQLite3 Multiple Ciphers' schemes.
var SQLiteCipher = &sqliteCipher
