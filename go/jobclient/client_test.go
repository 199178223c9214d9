package jobclient

import (
	"errors"
	"strings"
	"testing"
)

func TestResolveAddress(t *testing.T) {
	lookup := func(cluster string) (string, error) {
		if cluster == "10.0.0.1:1" {
			return "", errors.New("unreachable")
		}
		return "127.0.0.9:8265", nil // (the head's answer for any other cluster)
	}
	cases := []struct {
		flag, apiEnv, rayEnv string
		want, err            string
	}{
		{"http://127.0.0.1:8265/", "", "", "http://127.0.0.1:8265", ""},
		{"", "http://127.0.0.2:9000", "127.0.0.1:6379", "http://127.0.0.2:9000", ""},
		{"", "", "127.0.0.1:6379", "http://127.0.0.9:8265", ""},
		{"", "", "", "http://127.0.0.9:8265", ""}, // ("auto": the machine's cluster)
		{"127.0.0.1:6379", "http://127.0.0.2:9000", "", "http://127.0.0.9:8265", ""},
		{"10.0.0.1:1", "", "", "", "unreachable"},
		{"http://", "", "", "", "not a URL"},
	}
	for _, c := range cases {
		t.Setenv(EnvAPIServerAddress, c.apiEnv)
		t.Setenv("RAY_ADDRESS", c.rayEnv)
		got, err := ResolveAddress(c.flag, lookup)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%+v: %q %v, want an error with %q", c, got, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%+v: %q %v, want %q", c, got, err, c.want)
		}
	}
}
