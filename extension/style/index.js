import './base.css';
import './datasets.css';
import './jobs.css';
