package hosttest_test

import (
	"testing"

	"github.com/idplug/idplug/host/hosttest"
)

func TestMappingExamplesOfTheCookbook(t *testing.T) {
	hosttest.MappingExamples(t, "../../docs/mapping")
}
