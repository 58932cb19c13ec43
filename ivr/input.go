package ivr

import (
	"context"
	"strings"

	"github.com/hotline-dev/hotline/flows"
)

func concat(a, b []flows.PromptRef) []flows.PromptRef {
	return append(append([]flows.PromptRef(nil), a...), b...)
}

// menu plays the prompts and waits Timeout for a first key; while the keys
// so far are the start of a longer option it waits InterDigitTimeout for
// more. A timeout goes to on_timeout when set; a timeout or a wrong key
// otherwise re-prompts (timeout_prompts or invalid_prompts first) until
// retries are used up, then goes to exhausted.
func (r *run) menu(ctx context.Context, n *flows.Node) (string, error) {
	return r.askForKey(ctx, n, "menu", func(first rune, failures int) (string, bool, []flows.PromptRef, error) {
		keys := string(first)
		for hasLonger(n, keys) {
			d, ok, err := r.waitDigit(ctx, n.InterDigitTimeout)
			if err != nil {
				return "", false, nil, err
			}
			if !ok {
				break
			}
			keys += string(d.Key)
		}
		r.inputDone(n)
		r.addDigits(keys)
		for _, o := range n.Options {
			if o.Digits == keys {
				return o.Next, true, nil, nil
			}
		}
		r.log.Info("ivr: menu invalid choice", "node", n.Name, "keys", keys, "failures", failures+1)
		return "", false, concat(n.InvalidPrompts, n.Prompts), nil
	})
}

// hasLonger reports whether some option is longer than keys and starts with it.
func hasLonger(n *flows.Node, keys string) bool {
	for _, o := range n.Options {
		if len(o.Digits) > len(keys) && strings.HasPrefix(o.Digits, keys) {
			return true
		}
	}
	return false
}

// gather collects digits until max_digits, the terminator or an
// inter-digit timeout; checks min_digits and pattern; optionally reads the
// digits back and asks for confirmation; then sets var and goes to next.
func (r *run) gather(ctx context.Context, n *flows.Node) (string, error) {
	return r.askForKey(ctx, n, "gather", func(first rune, failures int) (string, bool, []flows.PromptRef, error) {
		got, pressed, err := r.collect(ctx, n, first)
		if err != nil {
			return "", false, nil, err
		}
		r.inputDone(n)
		r.addDigits(pressed)
		if !validGather(n, got) {
			r.log.Info("ivr: gather invalid", "node", n.Name, "digits", got, "failures", failures+1)
			return "", false, concat(n.InvalidPrompts, n.Prompts), nil
		}
		if n.Confirm {
			yes, err := r.confirm(ctx, n, got)
			if err != nil {
				return "", false, nil, err
			}
			if !yes {
				return "", false, n.Prompts, nil
			}
		}
		r.setVar(n.Var, got)
		return n.Next, true, nil, nil
	})
}

// collect reads digits after the first until the terminator, max_digits or
// the inter-digit timeout. It returns the digits without the terminator and
// everything pressed.
func (r *run) collect(ctx context.Context, n *flows.Node, first rune) (got, pressed string, err error) {
	k := first
	for {
		pressed += string(k)
		if n.Terminator != "" && string(k) == n.Terminator {
			return got, pressed, nil
		}
		got += string(k)
		if n.MaxDigits > 0 && len(got) >= n.MaxDigits {
			if n.Terminator != "" {
				r.swallow = swallow{key: []rune(n.Terminator)[0], until: r.e.cfg.Clock.Now().Add(n.InterDigitTimeout)}
			}
			return got, pressed, nil
		}
		d, ok, err := r.waitDigit(ctx, n.InterDigitTimeout)
		if err != nil || !ok {
			return got, pressed, err
		}
		k = d.Key
	}
}

func validGather(n *flows.Node, got string) bool {
	if len(got) < max(1, n.MinDigits) || (n.MaxDigits > 0 && len(got) > n.MaxDigits) {
		return false
	}
	return n.Pattern == nil || n.Pattern.MatchString(got)
}

// confirm reads the digits back ("you entered 1 2 3, press 1 if right, 2 to
// enter again") and returns true on 1; any other key or silence is a no.
func (r *run) confirm(ctx context.Context, n *flows.Node, got string) (bool, error) {
	var list []resolved
	if rp, ok := r.resolveName(flows.PromptYouEntered); ok {
		list = append(list, rp)
	}
	list = append(list, r.resolveDigits(got)...)
	if rp, ok := r.resolveName(flows.PromptConfirmOrRetry); ok {
		list = append(list, rp)
	}
	if err := r.playResolved(ctx, list, n.BargeIn); err != nil {
		return false, err
	}
	r.waitingForInput(n)
	d, ok, err := r.waitDigit(ctx, n.Timeout)
	r.inputDone(n)
	if err != nil || !ok {
		return false, err
	}
	r.addDigits(string(d.Key))
	return d.Key == '1', nil
}

// askForKey is the loop menu and gather share: it plays the prompts, waits
// Timeout for a first key and hands it to handle, which returns the next
// node and ok, or the prompts to play before asking again when the input was
// wrong. A timeout goes to on_timeout when set, otherwise re-prompts with
// the timeout prompts; a timeout or wrong input past the retries goes to
// exhausted.
func (r *run) askForKey(ctx context.Context, n *flows.Node, kind string, handle func(first rune, failures int) (next string, ok bool, retry []flows.PromptRef, err error)) (string, error) {
	failures := 0
	prompts := n.Prompts
	for {
		if err := r.playRefs(ctx, prompts, n.BargeIn); err != nil {
			return "", err
		}
		r.waitingForInput(n)
		d, ok, err := r.waitDigit(ctx, n.Timeout)
		if err != nil {
			return "", err
		}
		if ok {
			next, done, retry, err := handle(d.Key, failures)
			if err != nil || done {
				return next, err
			}
			prompts = retry
		} else {
			r.inputDone(n)
			r.log.Info("ivr: "+kind+" timeout", "node", n.Name, "failures", failures+1)
			if n.OnTimeout != "" {
				return n.OnTimeout, nil
			}
			prompts = concat(n.TimeoutPrompts, n.Prompts)
		}
		failures++
		if failures > n.Retries {
			return n.Exhausted, nil
		}
	}
}
