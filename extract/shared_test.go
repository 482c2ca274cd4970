package extract_test

// shared is the test bed's data directory (/work/shared/testdata), relative
// to this package; tests that need it skip when it is absent.
const shared = "../../shared/testdata"
