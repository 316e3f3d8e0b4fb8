package reconciler.undefined_function

# a function that does not exist: rego-cpp fails at query time
deny contains msg if {
  msg := foo("always")
}
