import * as React from 'react';

/**
 * A row action in the panel: a small link-styled button.
 */
export function ActionButton(props: {
  label: string;
  disabled: boolean;
  onClick: () => void;
  title?: string;
  ariaLabel?: string;
}): JSX.Element {
  return (
    <button
      type="button"
      className="labrig-LinkButton"
      disabled={props.disabled}
      title={props.title}
      aria-label={props.ariaLabel}
      onClick={props.onClick}
    >
      {props.label}
    </button>
  );
}
